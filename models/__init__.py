"""Scenario parameters: the validated, frozen description of an authority and its market."""

from models.scenario import Scenario, ScenarioError

__all__ = ["Scenario", "ScenarioError"]
