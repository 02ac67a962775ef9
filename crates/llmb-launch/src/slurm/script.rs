//! The sbatch script of a plan: a pure function from [`Plan`] to text, readable on its own.
//!
//! Account and partition are not written into the script: like llmb-run, llmb passes them as
//! `SBATCH_ACCOUNT` / `SBATCH_PARTITION` in sbatch's environment, which also lets a user's own
//! `SBATCH_*` variables (e.g. `SBATCH_TIMELIMIT=50:00`) override the directives below.

use std::fmt::Write as _;

use crate::plan::Plan;

pub use llmb_engines::shell_quote;

/// Renders the batch script that runs `plan` with `llmb run-plan`.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    // `writeln!` into a String cannot fail.
    let mut line = |t: String| {
        let _ = writeln!(s, "{t}");
    };
    line("#!/bin/bash".into());
    line(format!(
        "# llmb: {} {} {} at scale {} on {} ({} node(s) x {} GPU(s)){}",
        plan.workload,
        plan.model_size,
        plan.dtype,
        plan.scale,
        plan.gpu_type,
        plan.nodes,
        plan.ntasks_per_node,
        if plan.simulated {
            ", simulated engine"
        } else {
            ""
        }
    ));
    line(format!("#SBATCH --job-name={}", plan.job_name));
    line(format!("#SBATCH --nodes={}", plan.nodes));
    line(format!(
        "#SBATCH --ntasks-per-node={}",
        plan.ntasks_per_node
    ));
    line(format!("#SBATCH --gpus-per-node={}", plan.ntasks_per_node));
    if let Some(t) = &plan.time_limit {
        line(format!("#SBATCH --time={t}"));
    }
    if plan.exclusive {
        line("#SBATCH --exclusive".into());
    }
    line(format!(
        "#SBATCH --output={}",
        plan.slurm_log_pattern().display()
    ));
    line(String::new());
    line("# Starts the engines with srun on the nodes the plan names, waits for /health,".into());
    line("# runs one `llmb bench` per use case and concurrency, then stops every engine".into());
    line("# (also on scancel or at the time limit). Results go to the experiment folders".into());
    line("# listed in plan.json; run_status.json in the run folder says how it ended.".into());
    line(format!(
        "exec {} run-plan {}",
        shell_quote(&plan.llmb.display().to_string()),
        shell_quote(&plan.path().display().to_string())
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::build;
    use crate::plan::tests::{opts, spec};
    use llmb_recipe::GpuType;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/opt/llmb"), "/opt/llmb");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn llama33_scale_1_gb200() {
        let p = build(
            &spec("inference_llama3.3", "70b", "nvfp4", 1, GpuType::Gb200),
            &opts(true),
        )
        .unwrap();
        assert_eq!(
            render(&p),
            "#!/bin/bash
# llmb: inference_llama3.3 70b nvfp4 at scale 1 on gb200 (1 node(s) x 1 GPU(s)), simulated engine
#SBATCH --job-name=inference_llama3.3_70b_nvfp4
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=1
#SBATCH --time=00:30:00
#SBATCH --exclusive
#SBATCH --output=/lustre/llmb/workloads/inference_llama3.3/experiments/inference_llama3.3_70b_nvfp4_gpus1/20250602-091407/slurm-%j.out

# Starts the engines with srun on the nodes the plan names, waits for /health,
# runs one `llmb bench` per use case and concurrency, then stops every engine
# (also on scancel or at the time limit). Results go to the experiment folders
# listed in plan.json; run_status.json in the run folder says how it ended.
exec /opt/llmb/bin/llmb run-plan /lustre/llmb/workloads/inference_llama3.3/experiments/inference_llama3.3_70b_nvfp4_gpus1/20250602-091407/plan.json
"
        );
    }

    #[test]
    fn llama4_scale_8_gb200() {
        let p = build(
            &spec("inference_llama4", "17b", "fp8", 8, GpuType::Gb200),
            &opts(false),
        )
        .unwrap();
        let text = render(&p);
        let head: Vec<&str> = text.lines().take(8).collect();
        assert_eq!(
            head,
            [
                "#!/bin/bash",
                "# llmb: inference_llama4 17b fp8 at scale 8 on gb200 (2 node(s) x 4 GPU(s))",
                "#SBATCH --job-name=inference_llama4_17b_fp8",
                "#SBATCH --nodes=2",
                "#SBATCH --ntasks-per-node=4",
                "#SBATCH --gpus-per-node=4",
                "#SBATCH --time=00:30:00",
                "#SBATCH --exclusive",
            ]
        );
    }

    #[test]
    fn deepseek_dynamo_scale_32_gb200() {
        let p = build(
            &spec(
                "inference_deepseek-r1-dynamo",
                "671b",
                "nvfp4",
                32,
                GpuType::Gb200,
            ),
            &opts(true),
        )
        .unwrap();
        let text = render(&p);
        let head: Vec<&str> = text.lines().take(6).collect();
        assert_eq!(
            head,
            [
                "#!/bin/bash",
                "# llmb: inference_deepseek-r1-dynamo 671b nvfp4 at scale 32 on gb200 (8 node(s) x 4 GPU(s)), simulated engine",
                "#SBATCH --job-name=inference_deepseek-r1-dynamo_671b_nvfp4",
                "#SBATCH --nodes=8",
                "#SBATCH --ntasks-per-node=4",
                "#SBATCH --gpus-per-node=4",
            ]
        );
        assert!(text.contains("\nexec /opt/llmb/bin/llmb run-plan /lustre/llmb/workloads/inference_deepseek-r1-dynamo/experiments/inference_deepseek-r1-dynamo_671b_nvfp4_gpus32/20250602-091407/plan.json\n"), "{text}");
    }
}
