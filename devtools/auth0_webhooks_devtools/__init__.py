"""Development tools: an Auth0 Management API emulator, a webhook receiver and an event generator.

Standard library only; used by the tests, the benchmarks and the local demo. Run them as
`python -m auth0_webhooks_devtools.emulator` and `python -m auth0_webhooks_devtools.receiver`.
"""
