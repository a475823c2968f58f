"""Helpers for people who test coprolib plugins and adapters: strategies and a pytest plugin."""
