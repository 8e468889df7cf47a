"""Reading document text without a model: SRE-aware tokenising and stemming (``analysis``), steps,
sentences, commands and cues as citable character spans (``steps``), Markdown front matter
(``front_matter``), section names from headings (``sections``) and exact unified diffs (``unidiff``).
Pure functions over strings; depends only on kb.core."""
