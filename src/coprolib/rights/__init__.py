"""What a teller, or someone acting for them, can change about what they shared, and what
they are told about it: consent given, renewed, narrowed, approved, overridden or corrected
(``changes``), a receipt for each (``receipts``), and erasure (``erasure``).

Above delivery because each change re-plans, or retracts what has already gone."""
