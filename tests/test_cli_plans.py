"""``caredesk plans quote``: the payment plan window's schedule on the command line."""

from __future__ import annotations

import json

import pytest

from app.cli import main

QUOTE = [
    *("plans", "quote", "--amount", "4800", "--down", "300", "--installments", "12"),
    *("--frequency", "monthly", "--first", "2027-01-31", "--plan-date", "2026-12-01"),
]


def test_json_quote_with_apr_is_the_schedule(capsys):
    assert main([*QUOTE, "--apr", "9.9", "--json"]) == 0
    out = capsys.readouterr().out
    quote = json.loads(out)
    assert (quote["financed"], quote["regular_payment"], quote["total_interest"]) == (
        "4500.00", "395.41", "244.94",
    )  # fmt: skip
    assert quote["total_of_payments"] == "4744.94"
    assert quote["apr_basis_points"] == 990
    rows = quote["installments"]
    assert [r["due_on"] for r in rows[:3]] == ["2027-01-31", "2027-02-28", "2027-03-31"]
    assert rows[0] == {
        "sequence": 1, "due_on": "2027-01-31", "amount": "395.41", "principal": "358.28",
        "interest": "37.13", "remaining": "4141.72",
    }  # fmt: skip
    assert rows[-1]["amount"] == "395.43" and rows[-1]["remaining"] == "0.00"
    assert out.count("\n") == 1, "exactly one JSON object"


def test_human_quote_is_a_table_with_totals(capsys):
    assert main(QUOTE) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Financed 4500.00 USD in 12 monthly installments, APR 0.00 %"
    assert lines[1].split() == ["#", "Due", "Amount", "Principal", "Interest", "Remaining"]
    assert lines[3].split() == ["1", "2027-01-31", "375.00", "375.00", "0.00", "4,125.00"]
    assert lines[14].split() == ["12", "2027-12-31", "375.00", "375.00", "0.00", "0.00"]
    assert lines[-1].split() == ["Total", "4,500.00", "4,500.00", "0.00"]


def test_installment_amount_instead_of_a_count(capsys):
    args = ["plans", "quote", "--amount", "1000", "--installment-amount", "300", "--frequency",
            "weekly", "--first", "2027-01-04", "--plan-date", "2027-01-01", "--json"]  # fmt: skip
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)["installments"]
    assert [(r["due_on"], r["amount"]) for r in rows] == [
        ("2027-01-04", "300.00"), ("2027-01-11", "300.00"), ("2027-01-18", "300.00"),
        ("2027-01-25", "100.00"),
    ]  # fmt: skip


def test_a_higher_cap_can_be_given(capsys):
    assert main([*QUOTE, "--apr", "40", "--max-apr", "45", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["apr_basis_points"] == 4000


@pytest.mark.parametrize(
    "changes,message",
    [
        (["--amount", "abc"], "--amount must be an amount like 4800 or 1250.50, not “abc”"),
        (["--amount", "-5"], "The total amount cannot be negative."),
        (["--amount", "10.999"], "The total amount can have at most two decimal places."),
        (["--down", "4800"], "The down payment must be less than the total amount"),
        (["--installments", "0"], "The number of installments must be 1 or more."),
        (["--installments", "twelve"], "--installments must be a whole number, not “twelve”"),
        (["--installment-amount", "100"], "Give either the number of installments or"),
        (["--apr", "37"], "The APR of 37.00 % is above the clinic's legal cap of 36.00 %."),
        (["--apr", "-1"], "The APR cannot be negative."),
        (["--apr", "lots"], "“lots” is not a rate"),
        (["--first", "31/01/2027"], "--first must be a date like 2026-06-16, not “31/01/2027”"),
        (["--first", "2026-11-30"], "The first due date cannot be before the plan date."),
        (["--plan-date", "tomorrow"], "--plan-date must be a date like"),
    ],
)
def test_bad_arguments_say_why_and_exit_2(capsys, changes, message):
    args = list(QUOTE)
    for option, value in zip(changes[::2], changes[1::2], strict=True):
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
    assert captured.err.startswith("caredesk: ")


def test_an_unknown_frequency_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*QUOTE[:-6], "--frequency", "daily", "--first", "2027-01-31"])
    assert exit_.value.code == 2
    assert "invalid choice: 'daily'" in capsys.readouterr().err
