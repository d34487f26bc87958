"""HTTP plumbing shared by the controller and the dispatcher (Starlette + msgspec)."""
