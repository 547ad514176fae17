"""Tools for hand derivations: explain one weight, worksheets and marking, the classic mistakes."""
