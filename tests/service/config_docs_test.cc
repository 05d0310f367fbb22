// The configuration as text: --print-config output loads back to the same
// config, lists exactly the loader's keys and redacts secrets;
// docs/configuration.md documents exactly those keys, with the printed
// defaults; deploy/consensusd.yaml loads.

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service/config.h"
#include "service/config_load.h"
#include "tests/service/temp_dir.h"
#include "yaml-cpp/yaml.h"

namespace consensusd::service {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const std::string kSourceDir = CONSENSUSD_SOURCE_DIR;

// A config with a non-default value in every key, projects and properties,
// and strings that YAML would read as something else if printed carelessly.
Config Unusual() {
  Config c;
  c.kafka.brokers = "a:1,b:2";
  c.kafka.group = "null";
  c.kafka.instance_id = "consensusd-0";
  c.kafka.labels_topic = "in";
  c.kafka.consensus_topic = "123";
  c.kafka.review_topic = "true";
  c.kafka.dlq_topic = "dlq-_.x";
  c.kafka.properties = {{"security.protocol", "SASL_SSL"},
                        {"sasl.password", "p@ss: #word"},
                        {"message.max.bytes", "2000000"},
                        {"client.id", ""}};
  c.kafka.commit_interval_ms = 250;
  c.kafka.commit_max_messages = 7;
  c.state.data_dir = " /data with spaces/ ";
  c.state.write_buffer_mb = 3;
  c.state.block_cache_mb = 1000;
  c.model.method = "onecoin";
  c.model.prior = 0.1 + 0.2;  // not exactly 0.3: must survive the text form
  c.model.diagonal_prior = 0;
  c.model.tol = 1e-12;
  c.model.max_iter = 3;
  c.model.sweep_interval_s = 0.25;
  c.model.threads = 2;
  c.model.onecoin_below = 12345678901;
  c.project_defaults.classes = {"yes", "no"};
  c.project_defaults.max_classes = 3;
  c.project_defaults.repeats = "count";
  c.project_defaults.quality = {1, 0.25, 0.5};
  c.projects["sentiment-v2"] = {{"negative", "neutral", "positive", "~"}, 100, {7, 0.6, 0.9}};
  c.projects["null"] = {{}, 2, {0, 0, 1}};
  c.projects["with space: and #"] = {{"a,b", "\"q\"", "ü"}, 8, {1, 1, 0}};
  c.review = {5, 0.55};
  c.output.min_change = 0;
  c.http.address = "[::1]:0";
  c.http.admin_token = "tok:en";
  c.http.max_body_bytes = 12;
  c.metrics.per_worker_limit = 0;
  return c;
}

absl::StatusOr<Config> LoadText(const TempDir& dir, const std::string& yaml,
                                const std::map<std::string, std::string>& env = {}) {
  return LoadConfig(dir.Write("printed.yaml", yaml), env, {});
}

// Every leaf of a YAML mapping as a dotted name.
void Leaves(const YAML::Node& node, const std::string& prefix, std::set<std::string>* out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string name = prefix + it->first.Scalar();
    if (it->second.IsMap()) {
      Leaves(it->second, name + ".", out);
    } else {
      out->insert(name);
    }
  }
}

// The loader's keys: every table key, or (with `maps`) only the map entries
// kafka.properties.<name> and projects.<name>.<key>.
std::set<std::string> KeyNames(bool maps) {
  std::set<std::string> names;
  for (const std::string& name : ConfigKeyNames()) {
    if ((name.find('<') != std::string::npos) == maps) names.insert(name);
  }
  return names;
}

TEST(ConfigYaml, PrintedConfigLoadsBackToTheSameConfig) {
  const Config config = Unusual();
  ASSERT_TRUE(config.Validate().ok()) << config.Validate();
  const std::string printed = ConfigToYaml(config, Secrets::kShow);
  TempDir dir;
  absl::StatusOr<Config> loaded = LoadText(dir, printed);
  ASSERT_TRUE(loaded.ok()) << loaded.status() << "\n" << printed;
  EXPECT_EQ(ConfigToYaml(*loaded, Secrets::kShow), printed);
  // Field by field for the values most likely to be mangled.
  EXPECT_EQ(loaded->kafka.group, "null");
  EXPECT_EQ(loaded->kafka.consensus_topic, "123");
  EXPECT_EQ(loaded->state.data_dir, " /data with spaces/ ");
  EXPECT_EQ(loaded->model.prior, 0.1 + 0.2);
  EXPECT_EQ(loaded->model.tol, 1e-12);
  EXPECT_EQ(loaded->model.onecoin_below, 12345678901);
  EXPECT_EQ(loaded->kafka.properties, config.kafka.properties);
  EXPECT_EQ(loaded->http.admin_token, "tok:en");
  ASSERT_EQ(loaded->projects.size(), 3u);
  for (const auto& [name, project] : config.projects) {
    const ProjectConfig& p = loaded->ForProject(name);
    EXPECT_EQ(p.classes, project.classes) << name;
    EXPECT_EQ(p.max_classes, project.max_classes) << name;
    EXPECT_EQ(p.quality.min_answers, project.quality.min_answers) << name;
    EXPECT_EQ(p.quality.min_accuracy, project.quality.min_accuracy) << name;
    EXPECT_EQ(p.quality.max_spam_score, project.quality.max_spam_score) << name;
  }
  EXPECT_EQ(loaded->project_defaults.classes, config.project_defaults.classes);
}

TEST(ConfigYaml, DefaultConfigRoundTrips) {
  Config config;
  config.kafka.brokers = "k:9092";
  const std::string printed = ConfigToYaml(config);
  TempDir dir;
  absl::StatusOr<Config> loaded = LoadText(dir, printed);
  ASSERT_TRUE(loaded.ok()) << loaded.status() << "\n" << printed;
  EXPECT_EQ(ConfigToYaml(*loaded), printed);
}

TEST(ConfigYaml, EmptyMapsPrintInlineAndNothingIsRedacted) {
  Config config;
  config.kafka.brokers = "k:9092";
  const std::string printed = ConfigToYaml(config);
  EXPECT_THAT(printed, HasSubstr("  properties: {}\n"));
  EXPECT_THAT(printed, HasSubstr("\nprojects: {}\n"));
  EXPECT_THAT(printed, Not(HasSubstr("redacted")));
}

TEST(ConfigYaml, SecretsAreRedactedUnlessAskedFor) {
  const Config config = Unusual();
  const std::string redacted = ConfigToYaml(config);
  EXPECT_THAT(redacted, Not(HasSubstr("tok:en")));
  EXPECT_THAT(redacted, Not(HasSubstr("p@ss")));
  EXPECT_THAT(redacted, HasSubstr(std::string(kRedactedSecret)));
  EXPECT_THAT(redacted, HasSubstr("SASL_SSL"));  // not every property is a secret
  EXPECT_THAT(ConfigToYaml(config, Secrets::kShow), HasSubstr("tok:en"));
}

TEST(ConfigYaml, EverySecretKafkaPropertyIsRedacted) {
  Config config;
  config.kafka.properties = {
      {"sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule "
                           "required username=\"u\" password=\"s3cret-jaas\";"},
      {"sasl.password", "s3cret-password"},
      {"ssl.key.password", "s3cret-key-password"},
      {"ssl.key.pem", "s3cret-pem"},
      {"sasl.oauthbearer.client.secret", "s3cret-client"},
      {"sasl.oauthbearer.config", "s3cret-oauth"},
      {"https.token", "s3cret-token"},
      {"sasl.username", "visible-user"}};
  const YAML::Node printed = YAML::Load(ConfigToYaml(config));
  for (const auto& [name, value] : config.kafka.properties) {
    const std::string shown = printed["kafka"]["properties"][name].Scalar();
    EXPECT_EQ(shown, name == "sasl.username" ? value : std::string(kRedactedSecret)) << name;
  }
  EXPECT_THAT(ConfigToYaml(config), Not(HasSubstr("s3cret")));
}

TEST(ConfigYaml, RedactedConfigLoadsBackWhenSecretsComeFromTheEnvironment) {
  const Config config = Unusual();
  TempDir dir;
  absl::StatusOr<Config> loaded =
      LoadText(dir, ConfigToYaml(config),
               {{"CONSENSUSD_HTTP_ADMIN_TOKEN", "tok:en"},
                {"CONSENSUSD_KAFKA_PROPERTIES_SASL_PASSWORD", "p@ss: #word"}});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(ConfigToYaml(*loaded, Secrets::kShow), ConfigToYaml(config, Secrets::kShow));
}

TEST(ConfigYaml, RedactedPlaceholderLeftInPlaceIsAnError) {
  const Config config = Unusual();
  TempDir dir;
  absl::StatusOr<Config> loaded =
      LoadText(dir, ConfigToYaml(config), {{"CONSENSUSD_HTTP_ADMIN_TOKEN", "tok:en"}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("kafka.properties.sasl.password is the placeholder '<redacted>'"));
  loaded = LoadText(dir, ConfigToYaml(config),
                    {{"CONSENSUSD_KAFKA_PROPERTIES_SASL_PASSWORD", "x"}});
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("http.admin_token is the placeholder '<redacted>'"));
}

TEST(ConfigYaml, PrintedKeysAreExactlyTheKeyTable) {
  Config config;
  config.kafka.brokers = "k:9092";
  const YAML::Node printed = YAML::Load(ConfigToYaml(config));
  std::set<std::string> leaves;
  Leaves(printed, "", &leaves);
  // The two map-valued keys print as empty mappings: not leaves.
  EXPECT_EQ(leaves, KeyNames(false));
  EXPECT_TRUE(printed["kafka"]["properties"].IsMap());
  EXPECT_TRUE(printed["projects"].IsMap());
}

TEST(ConfigYaml, PrintedProjectKeysAreExactlyTheProjectKeys) {
  Config config;
  config.projects["p"];
  const YAML::Node printed = YAML::Load(ConfigToYaml(config));
  std::set<std::string> leaves;
  Leaves(printed["projects"]["p"], "projects.<name>.", &leaves);
  leaves.insert("kafka.properties.<name>");
  EXPECT_EQ(leaves, KeyNames(true));
}

TEST(ConfigYaml, PrintWithoutBrokersLoadsWhenBrokersAreNotRequired) {
  absl::StatusOr<Config> config = LoadConfig("", {}, {}, nullptr, /*require_brokers=*/false);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(ConfigToYaml(*config), HasSubstr("  brokers: \"\"\n"));
  // Everything else is still checked.
  config = LoadConfig("", {}, {{"model.tol", "0"}}, nullptr, /*require_brokers=*/false);
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(config.status().message(), HasSubstr("model.tol must be > 0"));
}

// --- docs/configuration.md ------------------------------------------------

// The rows of the key tables of docs/configuration.md: key -> default cell.
// A key row is a table row whose first cell is one code span.
std::map<std::string, std::string> DocumentedKeys() {
  std::map<std::string, std::string> keys;
  std::istringstream docs(ReadWholeFile(kSourceDir + "/docs/configuration.md"));
  for (std::string line; std::getline(docs, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::istringstream row(line.substr(1));
    for (std::string cell; std::getline(row, cell, '|');) {
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      cells.push_back(cell);
    }
    EXPECT_GE(cells.size(), 4u) << line;
    if (cells.size() < 4) continue;
    EXPECT_TRUE(keys.emplace(cells[0].substr(1, cells[0].size() - 2), cells[2]).second) << line;
  }
  return keys;
}

// A printed value as the docs write a default: `"text"`, `12`, `[]`.
std::string AsDocumented(const YAML::Node& value) {
  if (value.IsSequence()) {
    std::string text = "`[";
    for (size_t i = 0; i < value.size(); ++i) text += (i > 0 ? ", " : "") + value[i].Scalar();
    return text + "]`";
  }
  const std::string text = value.Scalar();
  const bool is_number =
      !text.empty() && text.find_first_not_of("0123456789.e+-") == std::string::npos;
  return is_number ? "`" + text + "`" : "`\"" + text + "\"`";
}

TEST(ConfigDocs, DocumentsExactlyTheLoadersKeys) {
  std::set<std::string> documented;
  for (const auto& [key, default_value] : DocumentedKeys()) documented.insert(key);
  std::set<std::string> keys = KeyNames(false), maps = KeyNames(true);
  keys.insert(maps.begin(), maps.end());
  EXPECT_EQ(documented, keys);
}

TEST(ConfigDocs, DocumentedDefaultsAreThePrintedDefaults) {
  const YAML::Node printed = YAML::Load(ConfigToYaml(Config{}));
  for (const auto& [key, documented] : DocumentedKeys()) {
    if (key == "kafka.properties.<name>") continue;  // no default: the map starts empty
    std::string path = key;
    if (path.rfind("projects.<name>.", 0) == 0) path = "project_defaults." + path.substr(16);
    YAML::Node value = printed;
    for (size_t start = 0, dot = 0; dot != std::string::npos; start = dot + 1) {
      dot = path.find('.', start);
      value.reset(value[path.substr(start, dot - start)]);
    }
    EXPECT_EQ(documented, AsDocumented(value)) << key;
  }
}

TEST(ConfigDocs, DocumentsTheEnvironmentVariableOfEveryKey) {
  const std::string docs = ReadWholeFile(kSourceDir + "/docs/configuration.md");
  for (const std::string& key : KeyNames(false)) {
    EXPECT_THAT(docs, HasSubstr(absl::StrCat("`", EnvVarName(key), "`"))) << key;
  }
}

// --- deploy/consensusd.yaml -----------------------------------------------

TEST(ConfigExample, LoadsWithoutErrorOrWarning) {
  std::vector<std::string> warnings;
  absl::StatusOr<Config> config =
      LoadConfig(kSourceDir + "/deploy/consensusd.yaml", {}, {}, &warnings);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(warnings, IsEmpty());
  // The image ships this file as its config: it must not declare a project.
  EXPECT_THAT(config->projects, IsEmpty());
}

TEST(ConfigExample, CommentedOutProjectExampleLoads) {
  // The example project is commented out; uncommented, it must still load.
  std::string example = ReadWholeFile(kSourceDir + "/deploy/consensusd.yaml");
  const size_t start = example.find("\nprojects:\n");
  ASSERT_NE(start, std::string::npos);
  const size_t end = example.find("\n\n", start);  // the section ends at a blank line
  std::string section = example.substr(start, end - start);
  for (size_t at; (at = section.find("\n  # ")) != std::string::npos;) section.erase(at + 3, 2);
  example.replace(start, end - start, section);
  TempDir dir;
  absl::StatusOr<Config> config = LoadConfig(dir.Write("example.yaml", example), {}, {});
  ASSERT_TRUE(config.ok()) << config.status() << "\n" << example;
  ASSERT_EQ(config->projects.size(), 1u);
  EXPECT_EQ(config->ForProject("sentiment-v2").classes.size(), 3u);
  EXPECT_EQ(config->ForProject("sentiment-v2").quality.min_accuracy, 0.6);
}

TEST(ConfigExample, ValuesAreTheDefaultsExceptTheBrokersAndProperties) {
  // The example says its values are the defaults: keep it so when they change.
  absl::StatusOr<Config> example = LoadConfig(kSourceDir + "/deploy/consensusd.yaml", {}, {});
  ASSERT_TRUE(example.ok()) << example.status();
  example->kafka.brokers.clear();  // required: no default
  example->kafka.properties.clear();
  EXPECT_EQ(ConfigToYaml(*example), ConfigToYaml(Config{}));
}

TEST(ConfigExample, SetsEveryKeyOfTheKeyTable) {
  const YAML::Node example = YAML::LoadFile(kSourceDir + "/deploy/consensusd.yaml");
  std::set<std::string> leaves;
  Leaves(example, "", &leaves);
  std::erase_if(leaves, [](const std::string& name) {
    return name.rfind("kafka.properties.", 0) == 0 || name == "projects";
  });
  EXPECT_EQ(leaves, KeyNames(false));
}

}  // namespace
}  // namespace consensusd::service
