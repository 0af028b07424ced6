"""mux-micro's JSON to CSV: `python3 -m harness.micro.micro_to_csv micro.json micro.csv`."""
