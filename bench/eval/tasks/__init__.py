"""The built-in evaluation tasks, one module each, registered as ``bench.tasks`` entry points."""
