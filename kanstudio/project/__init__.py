"""The project document shared by the GUI and the CLI: data + model + settings
+ edit history, undoable edit commands, .kanproj files and crash recovery.
No Qt here (tests/test_layering.py enforces it)."""
from .commands import (Command, CommandError, ComputedCommand, ModelCommand, ModelState, command_from_json,
                       command_types, edge_name, node_name, register_command)
from .commands_edges import AutoPrune, AutoSymbolic, FixSymbolic, PruneEdge, PruneNode, RefineGrid, Unfix
from .commands_model import FIT_DEFAULTS, FitModel, Retrain, SetModel, fit_config, resolve_width
from .commands_science import (AddAuxInput, AutoSwap, CompileFormula, DefineModule, ExpandDepth, ExpandWidth,
                               PruneInputs, weakest_inputs)
from .document import DEFAULT_SETTINGS, DEFAULT_UI, Project
from .history import History, replay
from .kanproj import (PROJECT_SUFFIX, SCHEMA_VERSION, ProjectError, load_project, read_project_json,
                      save_project, write_project_file)
from .recovery import (default_recovery_dir, discard_project_recovery, discard_recovery, find_recovery,
                       load_recovery, recovery_info, recovery_path, write_recovery)

__all__ = ["AutoPrune", "AutoSymbolic", "Command", "CommandError", "ComputedCommand", "DEFAULT_SETTINGS",
           "DEFAULT_UI", "FIT_DEFAULTS", "FitModel", "FixSymbolic", "History", "ModelCommand", "ModelState",
           "PROJECT_SUFFIX", "Project", "ProjectError", "PruneEdge", "PruneNode", "RefineGrid", "Retrain",
           "SCHEMA_VERSION", "SetModel", "Unfix", "command_from_json", "command_types",
           "default_recovery_dir", "discard_project_recovery", "discard_recovery", "edge_name", "find_recovery",
           "fit_config", "load_project", "load_recovery", "node_name", "read_project_json", "recovery_info",
           "recovery_path", "register_command", "replay", "resolve_width", "save_project", "write_project_file",
           "write_recovery", "AddAuxInput", "AutoSwap", "CompileFormula", "DefineModule", "ExpandDepth", "ExpandWidth",
           "PruneInputs", "weakest_inputs"]

# the auxiliary-input formulas need sympy, which the window must not import while
# it is built: those names load on first use
from ..lazy import lazy_exports  # noqa: E402

__getattr__, __dir__, _SYMPY_NAMES = lazy_exports(__name__, {
    "aux_formula": ("aux_expressions", "substitute_discovery", "substitute_expr", "substitute_result")})
__all__ += _SYMPY_NAMES
