"""CSV files as real spreadsheet programs save them: each is read with its own column names and numbers,
and the pages say what was detected and keep the last good file."""

import codecs

import numpy as np
import pytest

from engine import tabular
from ui.i18n import catalog, translate

ROWS = [(1.5, 20.25), (2.0, -3.5), (3.25, 1234.5), (4.0, 0.125), (5.5, 7.0)]


def table_text(header: tuple[str, str], separator: str = ",", decimal: str = ".") -> str:
    lines = [separator.join(header)]
    for row in ROWS:
        lines.append(separator.join(f"{value:g}".replace(".", decimal) for value in row))
    return "\r\n".join(lines) + "\r\n"                     # Excel ends lines with CR LF


def assert_read(table: tabular.NumericTable, header: tuple[str, str]) -> None:
    assert list(table.columns) == list(header)
    for k, name in enumerate(header):
        assert table.columns[name].tolist() == [row[k] for row in ROWS]


def test_gbk_chinese_headers_from_excel_on_chinese_windows():
    header = ("温度（摄氏度）", "销量")
    table = tabular.read_numeric_csv(table_text(header).encode("gbk"))
    assert_read(table, header)
    assert table.encoding == "gb18030" and table.separator == "comma" and not table.decimal_comma


def test_utf8_with_a_byte_order_mark_loses_the_mark():
    header = ("время", "y")
    table = tabular.read_numeric_csv(codecs.BOM_UTF8 + table_text(header).encode("utf-8"))
    assert_read(table, header)                             # not "\ufeffвремя"
    assert table.encoding == "utf8_bom"


@pytest.mark.parametrize(("codec", "key"), [("utf-16", "utf16le"), ("utf-16-be", "utf16be")])
def test_excel_unicode_text_utf16_tab_separated(codec, key):
    header = ("時間", "値")
    data = table_text(header, "\t").encode(codec)
    if codec == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    assert data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    table = tabular.read_numeric_csv(data)
    assert_read(table, header)
    assert table.encoding == key and table.separator == "tab"


def test_utf16_without_a_mark_is_recognised_by_its_zero_bytes():
    table = tabular.read_numeric_csv(table_text(("x", "y"), "\t").encode("utf-16-le"))
    assert_read(table, ("x", "y"))
    assert table.encoding == "utf16le"


def test_european_export_semicolons_and_decimal_commas():
    header = ("Größe", "Wert")
    text = table_text(header, ";", ",").replace("1234,5", "1.234,5")      # with a thousands dot as well
    table = tabular.read_numeric_csv(text.encode("cp1252"))
    assert_read(table, header)
    assert table.separator == "semicolon" and table.decimal_comma and table.encoding == "cp1252"


def test_one_column_with_decimal_commas():
    table = tabular.read_numeric_csv(b"Wert\n0,5\n1,25\n-2\n", min_columns=1)
    assert table.columns["Wert"].tolist() == [0.5, 1.25, -2.0] and table.separator == "none"


def test_a_comma_separated_file_never_reads_commas_as_decimals():
    table = tabular.read_numeric_csv(b'x,y\n1,"1,234"\n2,"2,5"\n3,4\n4,5\n5,6\n')
    assert not table.decimal_comma and np.isnan(table.columns["y"][0])


@pytest.mark.parametrize("codec", ["latin-1", "cp1252"])
def test_western_single_byte_files_keep_their_accents(codec):
    """"größe" is also valid GBK ("gr鲞e"): a non-ASCII run inside a Latin word is not Chinese."""
    for header in (("größe", "wert"), ("Température", "Straße")):
        table = tabular.read_numeric_csv(table_text(header).encode(codec))
        assert_read(table, header)
        assert table.encoding == "cp1252"


def test_every_detected_kind_has_words_on_the_page():
    for key in tabular.ENCODINGS:
        assert f"data.csv_encoding_{key}" in catalog()
    for key in (*tabular.SEPARATORS, "none"):
        assert f"data.csv_separator_{key}" in catalog()


GOOD = ("gut.csv", "Zeit;Wert\n" + "\n".join(f"{i};{np.sin(i / 7):.3f}".replace(".", ",") for i in range(300)))
BAD = ("leer.csv", b"name,town\nann,rome\n")


def test_lstm_page_keeps_the_last_good_file(app):
    """Page 62: a failed upload after a good one shows its message and that the good file is kept;
    removing the failed one brings the good file back (the series is drawn again)."""
    app_test = app("pages/lstm.py", "zh")
    app_test.slider(key="lstm_window").set_value(20).run()
    app_test.radio(key="lstm_source").set_value("csv").run()
    app_test.file_uploader(key="act_lstm_csv").set_value((GOOD[0], GOOD[1].encode("gbk"), "text/csv")).run()
    assert not app_test.exception and not app_test.error
    shown = [c.value for c in app_test.caption]
    assert translate("lstm.csv_loaded", "zh", name=GOOD[0], rows=300) in shown
    read_as = translate("data.csv_read_as", "zh", encoding=translate("data.csv_encoding_utf8", "zh"),
                        separator=translate("data.csv_separator_semicolon", "zh"))
    assert read_as in shown and translate("data.csv_decimal_comma", "zh") in shown
    assert app_test.selectbox(key="lstm_column").options == ["Zeit", "Wert"]
    assert len(app_test.get("plotly_chart")) == 1

    app_test.file_uploader(key="act_lstm_csv").set_value((BAD[0], BAD[1], "text/csv")).run()
    assert not app_test.exception and len(app_test.error) == 1
    assert translate("data.kept_upload", "zh", name=GOOD[0]) in [c.value for c in app_test.caption]

    app_test.file_uploader(key="act_lstm_csv").set_value(None).run()
    assert not app_test.exception and not app_test.error
    assert translate("lstm.csv_loaded", "zh", name=GOOD[0], rows=300) in [c.value for c in app_test.caption]
    assert len(app_test.get("plotly_chart")) == 1


def test_regression_page_shows_chinese_columns_and_keeps_the_last_good_file(app):
    header = ("面积", "房价")
    app_test = app("pages/regression.py", "en")
    app_test.radio(key="regression_source").set_value("csv").run()
    good = ("fang.csv", table_text(header).encode("gbk"))
    app_test.file_uploader(key="act_regression_csv").set_value((*good, "text/csv")).run()
    assert not app_test.exception and not app_test.error
    assert app_test.selectbox(key="regression_x_column").options == list(header)
    read_as = translate("data.csv_read_as", "en", encoding=translate("data.csv_encoding_gb18030", "en"),
                        separator=translate("data.csv_separator_comma", "en"))
    assert read_as in [c.value for c in app_test.caption]
    app_test.file_uploader(key="act_regression_csv").set_value((BAD[0], BAD[1], "text/csv")).run()
    assert len(app_test.error) == 1
    assert translate("data.kept_upload", "en", name=good[0]) in [c.value for c in app_test.caption]
