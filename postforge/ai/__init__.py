"""Post generation providers behind one interface (`base.PostGenerator`): Claude through the
Anthropic SDK (`anthropic_provider`), and an offline sample generator (`offline`) used when no API
key is set. `registry.get_generator()` picks one from the settings; `prompts` builds what Claude
is asked. Providers do no database work: `services/writing/generation.py` owns credits and drafts."""
