"""Run the web UI's search page headless (AppTest) in its own process and print the result titles."""

from __future__ import annotations

import json
import sys

from streamlit.testing.v1 import AppTest

if __name__ == "__main__":
    at = AppTest.from_file(sys.argv[1], default_timeout=180)
    at.run()
    at.text_area(key="search_box").input(sys.argv[2])
    at.button(key="search_button").click().run()
    titles = [str(m.value) for m in at.markdown if str(m.value).startswith("**1.")]
    print(json.dumps({"exceptions": [str(e.value) for e in at.exception], "titles": titles}))
