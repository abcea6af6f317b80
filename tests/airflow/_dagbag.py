"""Load the dags/ folder the way each Airflow major's DAG processor does."""

from __future__ import annotations

from pathlib import Path


def load_dagbag(dags_dir: Path):
    try:  # Airflow 3.x: the dag-processor parses a bundle (its path goes on sys.path)
        from airflow.dag_processing.dagbag import BundleDagBag

        return BundleDagBag(dag_folder=str(dags_dir), bundle_path=dags_dir)
    except ImportError:  # Airflow 2.x
        from airflow.models import DagBag

        return DagBag(dag_folder=str(dags_dir), include_examples=False)
