"""The computation: neurons, layers, the network, activations, losses, number systems.

The core imports nothing from the rest of the package."""
