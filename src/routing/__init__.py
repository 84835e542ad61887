"""Where a request goes, as pure functions: selectors, aliases, URI parameters, the planner, did-you-mean."""
