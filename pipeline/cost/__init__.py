"""What a build will send and cost before it runs (`plan`), and what it did (`ledger`)."""
