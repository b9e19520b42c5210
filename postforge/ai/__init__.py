"""Post generation providers behind one interface: Claude through the Anthropic SDK, and an
offline sample generator used when no API key is set. They arrive with the generation work."""
