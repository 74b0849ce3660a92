"""The pydantic models of the API: what a request may hold (they validate it) and what an answer holds.
app.api.openapi turns them into the OpenAPI document's schemas."""
