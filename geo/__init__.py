"""xuncha: geospatial library (pure: no web, no settings)."""
