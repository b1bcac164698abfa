"""The app's log file keeps our INFO lines and drops fontTools' subsetting chatter."""

import logging

from selector.core.logs import configure_logging


def test_fonttools_info_stays_out_of_the_log():
    root = logging.getLogger()
    before = list(root.handlers)
    path = configure_logging()
    try:
        logging.getLogger("fontTools.subset").info("subsetting glyphs")
        logging.getLogger("fontTools.subset").warning("a real fontTools problem")
        logging.getLogger("selector.test").info("kept")
        for handler in root.handlers:
            handler.flush()
        text = path.read_text(encoding="utf-8")
        assert "kept" in text and "a real fontTools problem" in text
        assert "subsetting glyphs" not in text
    finally:
        for handler in [h for h in root.handlers if h not in before]:
            root.removeHandler(handler)
            handler.close()
