"""Task input: task files (TOML), the dataset files they name, and the registry of tasks with their fixed splits."""
