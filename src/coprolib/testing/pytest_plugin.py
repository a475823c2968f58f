"""The coprolib pytest plugin (``pytest11`` entry point): fixtures for plugin and adapter authors."""
