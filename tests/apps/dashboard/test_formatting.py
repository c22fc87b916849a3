"""Brazilian number display (R$ 1.234,56), checked on the cases that trip naive formatting."""

from datetime import date

from liftoff.apps.dashboard import formatting as fmt


def test_money_numbers_and_dates_read_the_brazilian_way():
    assert fmt.brl(1234567.891) == "R$ 1.234.567,89"
    assert fmt.brl(0) == "R$ 0,00"
    assert fmt.brl(None) == "R$ 0,00"
    assert fmt.brl(-10) == "-R$ 10,00"
    assert fmt.integer(1234567) == "1.234.567"
    assert fmt.percent(0.1234) == "12,3%"
    assert fmt.day(date(2026, 6, 1)) == "01/06/2026"
    assert fmt.brl_card(9_999_999.5) == "R$ 9.999.999,50"
    assert fmt.brl_card(12_345_678) == "R$ 12,35 mi"
    assert fmt.brl_card(1_234_567_890) == "R$ 1,23 bi"
