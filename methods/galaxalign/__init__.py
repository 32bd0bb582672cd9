"""GalaxAlign (tri-modal CLIP fine-tuning with galaxy images, text and schematic symbols) as a
bench method, with every ablation of the paper's Table 4 and a zero-shot reference.

Modules: prompts (text), symbols (schematic drawings), loss (the contrastive losses),
model (open_clip network and weights), recipe (hyperparameters), variants (stage plans),
stages (one stage on the shared training loop), plugin (the Method), cli (`bench symbols`).
"""
