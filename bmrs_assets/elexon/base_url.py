"""The live Elexon Insights API's base URL: a setting's default, read without loading the HTTP client."""

LIVE_BASE_URL = "https://data.elexon.co.uk/bmrs/api/v1"
