"""What was spent: the `costs:` settings (`config`: every price, the ledger's location), the
cost ledger every `CostEvent` goes to (`ledger.Ledger`, SQLite or PostgreSQL) and monthly
budgets (`budget`). Import the modules: this package imports nothing, so the settings stay
cheap to load."""
