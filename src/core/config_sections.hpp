#pragma once
// The option sections that layers above core declare (each algorithm's own, the attention
// stage's): stored by type inside the Config and copied with it, so that core knows none of them.
// Their keys are registered with register_config_section (core/config_schema.hpp).
#include <map>
#include <memory>
#include <typeindex>

namespace fedsaf {

class ConfigSections {
 public:
  ConfigSections() = default;
  ConfigSections(const ConfigSections& other) {
    for (const auto& [type, item] : other.items_) items_.emplace(type, item->clone());
  }
  ConfigSections& operator=(const ConfigSections& other) {
    if (this != &other) {
      ConfigSections copy(other);
      items_.swap(copy.items_);
    }
    return *this;
  }
  ConfigSections(ConfigSections&&) noexcept = default;
  ConfigSections& operator=(ConfigSections&&) noexcept = default;

  // The section of type T (a default-constructed T until a key of it is set).
  template <class T>
  T& get() {
    std::unique_ptr<Base>& slot = items_[std::type_index(typeid(T))];
    if (!slot) slot = std::make_unique<Item<T>>();
    return static_cast<Item<T>&>(*slot).value;
  }
  template <class T>
  const T& get() const {
    const auto it = items_.find(std::type_index(typeid(T)));
    if (it != items_.end()) return static_cast<const Item<T>&>(*it->second).value;
    static const T defaults{};
    return defaults;
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual std::unique_ptr<Base> clone() const = 0;
  };
  template <class T>
  struct Item : Base {
    T value{};
    std::unique_ptr<Base> clone() const override { return std::make_unique<Item<T>>(*this); }
  };
  std::map<std::type_index, std::unique_ptr<Base>> items_;
};

}  // namespace fedsaf
