"""The pooled fund's books: ledger, city–county pooling, the provincial adjustment fund, budgets and monitoring."""
