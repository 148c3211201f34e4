"""Text of PDFs: the text layer when there is one, Tesseract (vie) when not, always NFC."""

from __future__ import annotations

import unicodedata

import pytest

from planning_gis.documents import EncryptedPdf, InvalidPdf
from planning_gis.documents.pdf_text import extract_pages, nfc, open_pdf, page_count


def test_text_layer_is_read_per_page_in_nfc(make_pdf):
    path = make_pdf(title="Quyết định phê duyệt Quy hoạch phân khu đô thị Cầu Giấy")
    pages = extract_pages(path)
    assert [p.source for p in pages] == ["text"]
    text = pages[0].text
    assert "Quyết định phê duyệt Quy hoạch phân khu đô thị Cầu Giấy" in text
    assert "1234/QĐ-UBND" in text
    assert unicodedata.is_normalized("NFC", text)


def test_decomposed_text_in_the_pdf_comes_out_composed(make_pdf):
    nfd = unicodedata.normalize("NFD", "Quy hoạch chi tiết phường Nghĩa Đô")
    path = make_pdf(title=nfd)
    text = extract_pages(path)[0].text
    assert "Quy hoạch chi tiết phường Nghĩa Đô" in text
    assert unicodedata.is_normalized("NFC", text)


def test_scanned_page_is_read_by_tesseract_in_vietnamese(make_pdf):
    path = make_pdf(scanned=((
        "ỦY BAN NHÂN DÂN THÀNH PHỐ HÀ NỘI",
        "Quy định quản lý theo đồ án quy hoạch",
        "Điều 1. Phạm vi điều chỉnh: quận Đống Đa, phường Láng Hạ.",
        "Mật độ xây dựng tối đa 40%, tầng cao 5-9 tầng.",
    ),))
    pages = extract_pages(path)
    assert [p.source for p in pages] == ["text", "ocr"]
    ocr = pages[1].text
    assert unicodedata.is_normalized("NFC", ocr)
    for words in ("Quy định quản lý", "Đống Đa", "Láng Hạ", "Mật độ xây dựng"):
        assert words in ocr


def test_without_ocr_a_scanned_page_is_marked_none(make_pdf):
    path = make_pdf(scanned=(("Trang quét",),))
    assert [p.source for p in extract_pages(path, ocr=False)] == ["text", "none"]
    assert page_count(path) == 2


def test_nfc_tidies_whitespace_and_composes():
    assert nfc("  Hà\r\nNo\u0323\u0302i \t  \n\n\n\nx ") == "Hà\nNội\n\nx"


@pytest.mark.parametrize(
    "content, expected, words_vi",
    [
        (b"", InvalidPdf, "không phải tệp PDF"),
        (b"PK\x03\x04 this is a zip file, not a pdf", InvalidPdf, "không phải tệp PDF"),
        ("Quyết định.docx".encode(), InvalidPdf, "không phải tệp PDF"),
    ],
)
def test_files_that_are_not_pdfs_are_refused_clearly(tmp_path, content, expected, words_vi):
    path = tmp_path / "x.pdf"
    path.write_bytes(content)
    with pytest.raises(expected) as err:
        extract_pages(path)
    assert "x.pdf" in str(err.value) and words_vi in err.value.message_vi


def test_truncated_pdf_is_refused_as_damaged(make_pdf):
    path = make_pdf()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(InvalidPdf) as err:
        extract_pages(path)
    assert "damaged" in str(err.value) and "bị hỏng" in err.value.message_vi


def test_encrypted_pdf_is_refused_with_what_to_do(make_pdf):
    path = make_pdf(password="mat-khau")
    with pytest.raises(EncryptedPdf) as err:
        with open_pdf(path):
            pass
    assert "password" in str(err.value) and "mật khẩu" in err.value.message_vi
