"""The mock's demo credentials (docs/fixtures.md in the mock-server repository). The fixtures
`mock_server`, `mock_run` and `mock_proxy` come from the data-platform-mock plugin."""

TENANT = "efa98c7b-2114-46e8-be99-954a4f1a2d9c"
CLIENT = ("0525b217-cbb9-4d4a-b8a1-7551c30098cf", "sandpit-read-secret")
SCOPE = "api://dev.data.thekalibratecloud.com/c770a337-3c7e-4bbe-a8cb-2fbc9601b94f/.default"

OPINUM_CLIENT = ("opinum-demo-client", "opinum-demo-secret")
PUSHER = ("pusher@demo-energy.example", "pusher-password")
