"""The statistics of GMIA (docs/algorithm.md): signals (losses, predictions), vulnerable-record
selection, ECDF p-values and their vectorised form, population calibration, ROC."""
