"""`verify`: prove the warehouse equals the API, and repair what drifted.

`choose` picks the windows, `api` fetches them exactly as a load would (without loading),
`stored` reads the warehouse's rows and records each verification, `compare` finds the drift,
`job` runs one provider's pipeline through all of it (and `--repair` through the runner).
"""
