"""Built-in domain packs (YAML data files; see core.yaml for the format)."""
