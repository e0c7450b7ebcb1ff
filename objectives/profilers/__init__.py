"""Profilers: each reads the sample's columns and suggests candidate rules of one kind."""
