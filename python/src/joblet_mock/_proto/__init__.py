"""Generated stubs of the mock's control API (`proto/mock_control.proto`,
package `jobletmock.v1`). Do not edit: regenerate with
`python python/scripts/gen_stubs.py`."""
