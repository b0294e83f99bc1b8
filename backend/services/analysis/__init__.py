"""Upload analysis, one concern a module: ``runner`` (what the routes call), ``analyzers`` (each atlas's
model), ``codec`` (cache entries), ``flight`` (single flight) and ``queue`` (the bounded queue)."""
