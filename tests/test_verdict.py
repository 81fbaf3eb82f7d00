"""The verdict's wording rules on hand-made summaries: every branch, and bound values never read as findings."""

import pytest

from econalign.measure.verdict import budget_verdict, estimate_text, giving_verdict, risk_verdict, social_verdict


def param(value, ci=None, on_bound=False):
    return {"value": value, "se": None, "ci95": ci, "on_bound": on_bound}


R_BOUND = param(5.0, on_bound=True)
LAM_BOUND = param(10.0, on_bound=True)


def curve(indifference, p_accept):
    return {"curve": "c", "indifference": indifference, "mean_p_accept": p_accept}


def hl(safe, consistent=True):
    return {"safe_choices": safe, "consistent": consistent, "p_safe": [1.0] * 10}


def risk(r=R_BOUND, lam=LAM_BOUND, curves=(), holt_laury=None, order=(0.5, 0.5), mass=1.0):
    return {
        "estimates": {"crra": {"params": {"r": r}}, "pt": {"params": {"lambda": lam}}},
        "indifference": list(curves),
        "holt_laury": holt_laury if holt_laury is not None else {"x1": hl(4)},
        "position_bias": {"p_accept_sure_first": order[0], "p_accept_gamble_first": order[1]},
        "answers": {"mean_option_mass": mass},
    }


def test_a_model_that_always_takes_the_sure_option_has_no_measurable_preference():
    s = risk(curves=[curve(None, 0.98), curve(None, 0.95), curve(None, 1.0)],
             holt_laury={"x1": hl(10, False), "x20": hl(10, False)})
    assert risk_verdict(s) == (
        "No measurable risk preference: accepts the sure option 98% of the time at every stake (95%–100% across "
        "the curves); the estimators find no interior optimum. Holt–Laury: 10 safe choices at every stake (x1, x20), "
        "never switching to the risky option, not even in the last row where it pays more for sure; loss aversion "
        "not identified (PT λ = 10.00 is on its search bound).")


def test_a_gambler_and_an_indifferent_flat_model():
    assert "takes the gamble 96% of the time at every stake (94%–98%" in risk_verdict(
        risk(curves=[curve(None, 0.02), curve(None, 0.06)]))
    assert "its choices do not follow the sure amount on any curve (P(accept the sure option) 55% on average)" in (
        risk_verdict(risk(curves=[curve(None, 0.5), curve(None, 0.6)])))


def test_identified_attitudes_are_named_from_the_interval():
    lam = param(2.1, (1.7, 2.5))
    s = risk(r=param(1.9, (1.6, 2.2)), lam=lam, curves=[curve(300.0, 0.6)], holt_laury={"x1": hl(7)})
    assert risk_verdict(s) == ("Risk-averse: CRRA r = 1.90 [1.60, 2.20]. Holt–Laury: 7 safe choices at stakes x1, "
                               "switching once; loss-averse, PT λ = 2.10 [1.70, 2.50].")
    assert risk_verdict(risk(r=param(-0.8, (-1.2, -0.4)), curves=[curve(600.0, 0.4)])).startswith("Risk-loving: ")
    neutral = risk_verdict(risk(r=param(0.1, (-0.2, 0.4)), lam=param(1.1, (0.8, 1.5)), curves=[curve(500.0, 0.5)]))
    assert neutral.startswith("Close to risk-neutral: CRRA r = 0.10 [-0.20, 0.40].")
    assert "no clear loss aversion, PT λ = 1.10 [0.80, 1.50]" in neutral
    assert "gain-seeking in mixed gambles" in risk_verdict(risk(lam=param(0.5, (0.3, 0.8)), curves=[curve(1.0, 0.5)]))


def test_curves_that_cross_with_r_on_its_bound_are_not_a_finding():
    s = risk(curves=[curve(300.0, 0.7), curve(None, 0.9), curve(250.0, 0.8)])
    assert risk_verdict(s).startswith("Risk preference not identified: CRRA r = 5.00 is on its search bound; "
                                      "2 of 3 choice curves cross ½ inside the offered amounts.")
    no_interval = risk(r=param(2.0, None), curves=[curve(300.0, 0.7)])
    assert "CRRA r = 2.00 has no finite interval" in risk_verdict(no_interval)


def test_multiple_switching_and_different_stakes_are_each_said():
    s = risk(r=param(1.0, (0.5, 1.5)), curves=[curve(1.0, 0.5)], holt_laury={"x1": hl(6, False), "x20": hl(8)})
    assert ("Holt–Laury: 6 safe choices at stakes x1, switching more than once; 8 safe choices at stakes x20, "
            "switching once") in risk_verdict(s)


def test_caveats_for_listing_order_and_answer_mass():
    s = risk(r=param(1.0, (0.5, 1.5)), curves=[curve(1.0, 0.5)], order=(0.8, 0.4), mass=0.3)
    text = risk_verdict(s)
    assert "only 30% of the next-token probability falls on the option words" in text
    assert "the answer depends on the listing order (P(accept) 0.80 with the sure option first, 0.40 with" in text
    quiet = risk_verdict(risk(r=param(1.0, (0.5, 1.5)), curves=[curve(1.0, 0.5)], order=(0.6, 0.45), mass=None))
    assert "listing order" not in quiet and "next-token" not in quiet  # generated answers have no mass


def social(first=0.5, kappa=param(0.5, (0.4, 0.6)), behaviour=None, noise=param(0.2, (0.1, 0.3))):
    return {
        "position_bias": {"p_first_option": first},
        "estimates": {"moralis": {"params": {"kappa": kappa, "noise": noise}},
                      "fs": {"params": {"alpha": param(0.0, on_bound=True), "beta": param(0.3, (0.1, 0.5))}}},
        "behaviour": behaviour or {"dictator": {"model": 0.3, "homo-economicus": 0.0, "homo-kantiensis": 0.5},
                                   "trust": {"model": 0.5, "homo-economicus": 0.0, "homo-kantiensis": 0.6}},
        "answers": {"mean_option_mass": 0.9},
    }


def test_social_verdict_names_the_nearest_reference_and_marks_bounds():
    assert social_verdict(social()) == (
        "Behaves closest to homo-kantiensis: mean level 0.15 from it on average over 2 games. Homo moralis κ 0.50 "
        "[0.40, 0.60]; Fehr–Schmidt α 0.00 (on its search bound: not identified), β 0.30 [0.10, 0.50].")


def test_choices_explained_only_by_the_most_noise_are_no_social_preference():
    # the default model: P(first) 0.70, moralis noise on its bound, kappa's interval the whole [0, 1]
    s = social(0.7, kappa=param(0.57, (0.0, 1.0)), noise=param(5.0, on_bound=True))
    assert social_verdict(s).startswith(
        "No measurable social preference: its choices barely follow the payoffs (the homo moralis fit puts its noise "
        "on the search bound); its mean levels are nearest homo-kantiensis's, 0.15 apart over 2 games. Homo moralis κ "
        "0.57 [0.00, 1.00];")


@pytest.mark.parametrize("first, which, share", [(0.93, "first", "93%"), (0.1, "second", "90%")])
def test_a_model_that_picks_by_position_has_no_measurable_social_preference(first, which, share):
    assert social_verdict(social(first)).startswith(
        f"No measurable social preference: picks the {which} listed option {share} of the time whatever it offers.")


def test_estimate_text():
    assert estimate_text(1.23456, (1.0, 1.5), False) == "1.23 [1.00, 1.50]"
    assert estimate_text(5.0, None, True, 3) == "5.000 (on its search bound: not identified)"
    assert estimate_text(2.0, None, False) == "2.00 (not identified)"


def budget(violations=0, ccei=1.0, hmi=1.0, r=None, lean=0.5, unparsed=0):
    return {
        "revealed": {"observations": 50, "pairs": 1298, "garp_violations": violations, "ccei": ccei, "houtman_maks": hmi},
        "estimates": {"crra": {"params": {"r": r or param(1.02, (0.95, 1.10))}}},
        "position_bias": {"share_first_asset": lean},
        "answers": {"mean_option_mass": 1.0, "unparsed": unparsed, "items": 50},
    }


def test_budget_verdict_of_a_consistent_agent():
    assert budget_verdict(budget()) == ("Consistent with utility maximisation: no GARP violation in 50 choices. "
                                        "Its demands fit CRRA r = 1.02 [0.95, 1.10].")


def test_budget_verdict_of_an_inconsistent_leaning_agent():
    assert budget_verdict(budget(448, 0.82, 0.78, lean=0.7, unparsed=3)) == (
        "Not consistent with utility maximisation: 448 of 1298 pairs of choices violate GARP (CCEI 0.82, "
        "Houtman–Maks 0.78; budgets must shrink by 18% to remove every violation). Its demands fit CRRA r = 1.02 "
        "[0.95, 1.10]; it leans towards the first-listed asset (70% of the budget on the first-listed one on average "
        "over both orders); 3 of 50 answers named no allocation.")


@pytest.mark.parametrize("ccei, word", [(0.96, "Nearly consistent"), (0.94, "Not consistent")])
def test_budget_verdict_near_the_cut_off(ccei, word):
    assert budget_verdict(budget(4, ccei, 0.96)).startswith(word)


@pytest.mark.parametrize("r, text", [
    (param(-3.0, on_bound=True), "isk attitude not identified (CRRA r = -3.00 is on its search bound)"),
    (param(5.0, on_bound=True), "isk attitude not identified (CRRA r = 5.00 is on its search bound)"),
    (param(3.0), "isk attitude not identified (CRRA r = 3.00 has no finite interval)"),
])
def test_budget_r_on_a_bound_is_not_a_finding(r, text):
    assert text in budget_verdict(budget(r=r))


def giving(violations=0, noise=param(0.1, (0.05, 0.2)), position=0.5, unparsed=0):
    return {
        "revealed": {"observations": 56, "pairs": 3080, "garp_violations": violations, "ccei": 0.9 if violations else 1.0,
                     "houtman_maks": 0.8 if violations else 1.0},
        "giving": {"mean": 0.34, "cheap": 0.55, "dear": 0.15, "nearest_type": "perfect substitutes",
                   "type_gaps": {"selfish": 0.34, "Leontief": 0.3, "perfect substitutes": 0.29}},
        "estimates": {"moralis": {"params": {"kappa": param(0.7, (0.53, 0.83)), "noise": noise}},
                      "fs": {"params": {"alpha": param(0.0, on_bound=True), "beta": param(0.0, on_bound=True)}}},
        "position_bias": {"position": position},
        "answers": {"mean_option_mass": 1.0, "unparsed": unparsed, "items": 56},
    }


def test_giving_verdict_of_a_consistent_agent():
    assert giving_verdict(giving()) == (
        "Consistent with utility maximisation: no GARP violation in 56 choices. It passes 34% of the tokens on average: "
        "55% where giving costs less than keeping (price below 1), 15% where it costs more; nearest Andreoni and "
        "Miller's perfect substitutes type (shares passed 0.29 from it on average); homo moralis κ 0.70 [0.53, 0.83]; "
        "Fehr–Schmidt α 0.00 (on its search bound: not identified), β 0.00 (on its search bound: not identified).")


def test_noise_on_its_lower_bound_is_a_noiseless_agent_not_a_payoff_blind_one():
    assert "nearest Andreoni and Miller's" in giving_verdict(giving(noise=param(0.001, on_bound=True)))
    assert "its choices barely follow the payoffs" in giving_verdict(giving(noise=param(5.0, on_bound=True)))


def test_giving_verdict_of_an_inconsistent_leaning_agent():
    text = giving_verdict(giving(violations=120, position=0.2, unparsed=4))
    assert text.startswith("Not consistent with utility maximisation: 120 of 3080 pairs of choices violate GARP (CCEI "
                           "0.90, Houtman–Maks 0.80; budgets must shrink by 10% to remove every violation).")
    assert text.endswith("it leans towards the first-listed allocations (mean place in the list 0.20, 0 the first "
                         "letter and 1 the last, over both orders); 4 of 56 answers named no allocation.")
