"""Objective inference: constraints proposed from samples, field names and domain packs, in CEL.

Every proposal is a rule string plus its evidence; it is parsed, type-checked and tested on the
samples before it is offered, and nothing is enforced until the user accepts it into the lock file
(workflow/objectives_lock.py reads that file at spec-load time). docs/objectives.md.
"""
