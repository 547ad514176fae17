import os
import sys

# Tests import the helpers in this folder (catalogue, strategies) by name.
sys.path.insert(0, os.path.dirname(__file__))
