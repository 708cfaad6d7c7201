"""Tabular data: CSV import and validation, Dataset, and the safe formula parser. No Qt."""
from .cleaning import DropReport
from .csv_import import (ColumnInfo, RawTable, analyze_columns, build_dataset, guess_target, label_columns, load_csv,
                         read_table, read_table_bytes, table_from_frame)
from .dataset import NORMALIZATIONS, SMALL_TABLE_ROWS, Dataset
from .errors import DataError
from .expressions import evaluate_expression, expression_symbols, parse_expression, safe_symbol_name
from .units import check_units, parse_unit, parse_units_option, registry

__all__ = ["ColumnInfo", "DataError", "Dataset", "DropReport", "NORMALIZATIONS", "RawTable", "SMALL_TABLE_ROWS",
           "analyze_columns", "build_dataset", "evaluate_expression", "expression_symbols", "guess_target",
           "label_columns",
           "load_csv", "parse_expression", "read_table", "read_table_bytes", "safe_symbol_name",
           "table_from_frame", "check_units", "parse_unit", "parse_units_option", "registry"]
