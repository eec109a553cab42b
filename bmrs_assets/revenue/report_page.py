"""Where the revenue report page is written and how many days it shows (``revenue/report.py`` builds it).

Apart from the page's code so the code location can describe the report asset without pandas."""

WINDOW_DAYS = 30
PATH_ENV = "BMRS_REVENUE_REPORT_PATH"
