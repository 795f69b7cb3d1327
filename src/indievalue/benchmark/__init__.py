"""From a catalog to episodes: eval set, probe setups, demonstrations. Pure and seeded."""
