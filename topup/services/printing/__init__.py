"""Cards on paper: PDF card sheets (`sheets`), printing a selection now or as a background
job (`jobs`), the CSV export and the print shop's encrypted file (`exports`), print shops
(`shops`)."""
