"""The release calendar: expected StatBank releases, the polling schedule around them, late releases, and the published calendar."""
