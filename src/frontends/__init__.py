"""Protocol front-ends: the endpoints clients call, each in its own protocol."""
