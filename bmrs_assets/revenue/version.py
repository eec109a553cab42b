"""The revenue method's version, apart from the method so the code location reads it without pandas."""

# The method's version: bump it when a change here or in the modules beside it changes the rows a day
# computes (not for a refactor). The derived assets' Dagster code_version is a fingerprint of their
# declaration plus this, so the UI shows their stored days as computed by an older method.
METHOD_VERSION = "4"  # 2: the hybrid joins on nationalGridBmUnit, each side separately; 3: units from the
# reference; 4: VLP revenue a filter of every unit's revenue (bm_unit_revenue)
