"""Leakage audit: exact and near-duplicate images within a dataset and across its split.

``fingerprint`` hashes images (a byte digest, and a perceptual hash in each of the eight rotations and
flips), ``pairs`` finds the pairs of hashes within a Hamming distance, ``duplicates`` confirms them with an
embedding and joins them into groups, ``load_time`` gives the loaders those groups (cached) so that their
splits keep each group in one part, ``audit`` compares the group-unaware split with the loaders' and
``report`` writes the markdown and the PNG of the groups.
"""
