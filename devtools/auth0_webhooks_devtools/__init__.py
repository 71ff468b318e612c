"""Development tools: an Auth0 Management API emulator, a webhook receiver and an event generator.

Standard library only; used by the tests, the benchmarks and the local demo. Run them as
`python -m auth0_webhooks_devtools.emulator` and `python -m auth0_webhooks_devtools.receiver`.

Modules: `emulator` (the fake Auth0 tenant and its CLI), built on `server` (the HTTP layer it
shares with `receiver`), `query` (the search `q` parser), `ratelimit` (the token bucket) and
`faults` (fault settings); `events` generates the logs.
"""
