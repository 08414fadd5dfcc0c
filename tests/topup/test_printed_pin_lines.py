"""A printed PIN never breaks across lines: each PIN, as grouped, is whole on one line of the
sheet as pdftotext -layout reads it, with the QR codes taking their room."""

import pytest
from django.urls import reverse

from tests.factories import generate
from tests.topup.test_printing import LAYOUT, pdf_text, pins
from topup.models import Card
from topup.services.printing.sheets import SheetLayout, group_pin


@pytest.mark.parametrize(("length", "paper", "qr"), [
    (14, "a4", "pin"), (20, "a4", "link"), (20, "letter", "pin"), (20, "thermal", "pin"),
])  # fmt: skip
def test_a_printed_pin_stays_on_one_line(operator_client, tree, tmp_path, length, paper, qr):
    series = generate(tree["operator"], tree["north"], quantity=6, code="601", pin_length=length)
    response = operator_client.post(
        f"{reverse('topup:card-print')}?series=601&apply_to=search",
        {**LAYOUT, "paper": paper, "qr": qr},
    )
    assert response.status_code == 200
    lines = pdf_text(response.content, tmp_path).splitlines()
    for pin in pins(Card.objects.filter(series=series)).values():
        printed = " ".join(group_pin(pin))
        assert any(printed in line for line in lines), (printed, lines)


def test_the_usual_pin_size_is_kept_where_it_fits():
    layout = SheetLayout(qr="pin")
    assert layout.pin_font_size(len("1234 5678 9012")) == 1.5 * layout.font_size
    assert layout.pin_font_size(len("41850 73404 9046")) < 1.5 * layout.font_size
