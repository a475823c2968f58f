"""The built-in consent rules: each a ``consent_veto`` plugin, registered by the plugin
host exactly as a third-party rule is. :func:`coprolib.consent.decide` checks the terms
the teller agreed itself, so default deny holds with every rule unregistered."""
